"""hookrelay: relay commits from git, Subversion and forge webhooks to Pivotal Tracker, exactly once."""

__version__ = "0.1.0"
