"""``hookrelay emulate``: a Tracker-compatible server for demos and tests.

``world`` keeps projects, stories and comments (SQLite, in memory or in a file); ``workflow`` is
rule 7's state table; ``v5`` and ``v3`` are the two APIs' routes; ``formats`` writes their
resources and errors; ``app.create_app`` puts them together; ``demo`` seeds a project to try.
"""
