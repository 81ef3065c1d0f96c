"""Model lifecycle: tracking, the model-folder layout, flavors, registry, promotion, the pyfunc flavor."""
