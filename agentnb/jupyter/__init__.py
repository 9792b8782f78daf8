"""The Jupyter layer: live widgets over a trace, forms, and the magics. Imports the core and
the adapters; nothing below imports it."""
