import torch

torch.set_num_threads(1)  # small CPU tensors: one thread is much faster on 2 cores
