"""The app's dialogs (settings, label editors, import summary, shortcuts, about), one per module."""
