"""Where numbers go: the Reporter (bars, TensorBoard, console lines, metrics.jsonl) and the
pictures it draws.
"""
