"""``rnnbench dashboard``: the results over commits, the report's charts and a comparison of
machines as a static site people open in a browser (:mod:`~rnnbench.dashboard.build`)."""
