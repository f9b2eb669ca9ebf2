"""Task modules (assigners) for detectors trained on label sets."""
from .ignoring_assigner import MaxIoUAssignerWithIgnoredInstances

__all__ = ['MaxIoUAssignerWithIgnoredInstances']
