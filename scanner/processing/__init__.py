"""Processing: the operations the scanner detects (median, blur, noise, resize, JPEG) and the
forgeries made with them for training and evaluation."""
