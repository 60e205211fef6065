"""PyQt6 views; the only place in the project that imports Qt."""
