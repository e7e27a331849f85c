"""hookrelay: relay commits from git, Subversion and forge webhooks to Tracker, exactly once."""

__version__ = "0.1.0"
