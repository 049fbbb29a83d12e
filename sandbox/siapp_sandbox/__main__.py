"""``python -m siapp_sandbox serve ...``"""

from .cli import sandbox_app

sandbox_app(prog_name="python -m siapp_sandbox")
