"""mmcyclic."""
