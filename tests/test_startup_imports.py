"""What a serving process loads before anyone asks for a document: each library is memory every
replica keeps (fpdf2 with Pillow and fontTools is about 50 MB of a 150 MB budget)."""

import subprocess
import sys

# Loaded only by the work that needs them: an invoice PDF, a statement chart.
DOCUMENT_LIBRARIES = ("fpdf", "PIL", "fontTools", "matplotlib")


def test_building_the_app_loads_no_document_library():
    script = (
        "import sys\n"
        "from bot.app import create_app\n"
        "from bot.cli import main\n"
        "from bot.config import Config\n"
        "from store import db\n"
        "engine = db.make_engine('sqlite://')\n"
        "config = Config(slack_bot_token='xoxb-test-token', slack_signing_secret='s')\n"
        "create_app(config, db.make_session_factory(engine))\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({DOCUMENT_LIBRARIES!r})))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
