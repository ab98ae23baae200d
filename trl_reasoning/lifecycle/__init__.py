"""What a run leaves behind: atomic checkpoints and their metadata, the model card and Hub push, reports."""
