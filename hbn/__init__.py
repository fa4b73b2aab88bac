"""hbn: a reproducible study of class-granular early-exit networks (Gran-HBN, AG-HBN).

Modules: config, hierarchy, data, models, losses, train, records, evaluate, routing (exit
rules, Algorithm 1), analysis (τ sweeps, operating regions, entropies), cost (FLOPs, latency),
study, plots, book, cli; runs (run folders, atomic writes), lock (one process per run
folder), identity (which configuration and weights a file belongs to).
"""
__version__ = "0.1.0"
