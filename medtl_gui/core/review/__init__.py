"""Human-in-the-loop review: active-learning rankings and saliency heat-maps (no Qt; torch loaded lazily)."""
