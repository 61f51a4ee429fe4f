import torch

torch.set_num_threads(1)  # small CPU tensors: one thread is much faster on 2 cores

# the course site's browser fixtures (one build, one server, one Chromium per session)
pytest_plugins = ["browser_harness"]
