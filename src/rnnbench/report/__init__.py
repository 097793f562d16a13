"""``rnnbench report``: the measurements as tables, plots and a selection guide.

One job per module: :mod:`~rnnbench.report.load` (the results files, with errors that name
them), :mod:`~rnnbench.report.tables` (markdown tables, number formats and the queries behind
them), :mod:`~rnnbench.report.plots` (the figures), :mod:`~rnnbench.report.article` (the blog
post's figures beside the exact ones), :mod:`~rnnbench.report.guide` (the selection guide)
and :mod:`~rnnbench.report.readme` (the README page and the comparison page).
"""
