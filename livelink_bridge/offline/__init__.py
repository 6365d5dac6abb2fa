"""Files out: batch baking of dialogue (`bake`), the animation file formats (`writers`) and
the preview renderer (`preview`)."""
