"""PyTorch training machinery shared by the deep-learning projects (imports torch; nothing else in
mlcore does): device and precision, seeding, a plain training loop with checkpoints, resume and
early stopping, DistributedDataParallel under ``torchrun``, and ONNX export."""
