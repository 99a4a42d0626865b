"""GUI of human-in-the-loop review: the "Label next" ranking job and the viewer's saliency overlay."""
