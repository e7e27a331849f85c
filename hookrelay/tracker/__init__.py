"""The Tracker side: the client that posts ``source_commit``s."""
