"""Task modules (assigners, samplers) for detectors trained on sparse label sets."""
from .confident_negative_sampler import ConfidentNegativeIgnoringSampler
from .ignoring_assigner import MaxIoUAssignerWithIgnoredInstances

__all__ = ['ConfidentNegativeIgnoringSampler', 'MaxIoUAssignerWithIgnoredInstances']
