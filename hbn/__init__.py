"""hbn: a reproducible study of class-granular early-exit networks (Gran-HBN, AG-HBN).

Modules: config, hierarchy, data, models, losses, train (device: arithmetic; reuse: finished
runs, post-training forks), records, evaluate, routing (exit rules, Algorithm 1), analysis (τ
sweeps, operating regions, oracle), entropies (Fig. 5), cost (FLOPs, latency), study, plots,
book (variants: --set; toc: _toc.yml), cli; runs (run folders, atomic writes), lock (one process
per run folder), identity (which configuration and weights a file belongs to).
"""
__version__ = "0.1.0"
