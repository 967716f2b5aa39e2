"""Studies built on the engines: sweeps, the trade-off explorer, comparisons,
experiment files, and the analysis of their results."""
