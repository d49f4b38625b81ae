"""Interactive explorers for the lessons (ipywidgets): pooling and convolution."""
