"""The leaderboard: entries in ``board.json`` and the rendered ``LEADERBOARD.md``."""
