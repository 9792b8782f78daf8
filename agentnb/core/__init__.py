"""agentnb's pure core: records, the trace, state folds, DataFrames, masking, rendering to
escaped HTML and text, the live-patch format, throttling and the trace codec.

Nothing here imports IPython or a framework: adapters (`agentnb.adk`, `agentnb.livekit`) build
records, and the Jupyter layer (`agentnb.jupyter`) draws them.
"""
