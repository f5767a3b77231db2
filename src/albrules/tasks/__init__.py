"""The use cases the Lambda functions run: ``functions/<task>/app.py`` parses the event and
calls one of these (``backup``, ``restore``, ``approval``), over the library's steps."""
