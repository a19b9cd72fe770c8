"""Model-side work for VAD Review: IFD scoring, prompt rendering and model loading.

Everything here except ``services.py`` and ``tasks.py`` is plain Python on top of
torch/transformers and must stay importable without Django.
"""
