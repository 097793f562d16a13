"""The model side: what a recurrent layer is and how its time loop runs, from the bottom up.

``errors`` and the scans (``derived`` from any step, ``kernels`` with ``triton_steps``,
``parallel``) know no cell; the registry ``cells`` names each cell's step, shapes and scans;
``impls`` turns a cell and an implementation name into a time loop; ``recurrent`` is the layer
around it, ``params`` the closed-form parameter counts, and ``build`` the one entry point
(``rnnbench.build``).
Nothing here imports the benchmark, gate, report or converge side.
"""
