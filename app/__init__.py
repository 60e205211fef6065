"""ms2l-live application: a Qt-free runtime and clip library (here) and a thin PyQt6 UI (``app.ui``)."""
