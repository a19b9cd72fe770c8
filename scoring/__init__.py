"""The model core of VAD Review: IFD scoring, prompt rendering and model backends.

Plain Python on top of torch/transformers: nothing here imports Django or the project's apps,
so it runs, and is benchmarked, on a bare GPU image. The Django side (jobs) is `pipeline`.
"""
