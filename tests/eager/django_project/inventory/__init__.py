"""An installed app with a model and a ``workflows`` module that imports it: the Django app
imports that module once the app registry is ready (importing it any earlier fails)."""
