"""The claims lab: one experiment per quantitative claim of the lessons (see README.md here)."""
