global using TorchSharp;
global using RoboRl.Core.Policy;
global using Tensor = TorchSharp.torch.Tensor;
