"""Datasets (uint8 image tensors), forget-set scenarios, the device-resident loader and the Task."""
