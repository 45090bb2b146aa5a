"""Fine-tune the paper's ControlNet on a brand's own product photos.

As in the paper, only the ControlNet trains; the SI2 UNet, VAE and text encoder stay frozen. The
result is a model folder laid out like the published one, which the app lists as the user's own
model. ``train.train_controlnet`` is the job (CLI ``packshot train`` and the desktop wizard both
drive it); ``dataset`` turns a folder of photos into (image, background mask, caption) samples.
"""
