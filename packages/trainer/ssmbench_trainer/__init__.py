"""ssmbench trainer: shared training loop, ONNX export, golden files and cards for every model family."""
