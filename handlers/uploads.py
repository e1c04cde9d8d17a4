"""Files posted to Slack in its three steps, so that a failure tells whether anything was posted.

Slack's files_upload_v2 reserves an upload URL for each file, sends its bytes there, then shares
them all in one message with files.completeUploadExternal. Only that last step posts: a failure
before it posted nothing and may be sent again, where a lost answer to it may have posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.request import Request, urlopen

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError


class NotSent(Exception):
    """A step before files.completeUploadExternal failed: nothing was posted; sending again is safe."""


@dataclass(frozen=True)
class Upload:
    content: bytes
    filename: str
    title: str


def post_files(client: WebClient, channel: str, comment: str, uploads: list[Upload]) -> None:
    """Post the files in one message with `comment`.

    SlackApiError: Slack refused a step. NotSent: a step before the post failed. Either way nothing
    was posted. Any other error is a lost answer to the post itself, which may have been posted.
    """
    try:
        files = [_send(client, upload) for upload in uploads]
    except SlackApiError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever failed, the post was never sent
        raise NotSent(f"{type(error).__name__}: {error}") from error
    client.files_completeUploadExternal(channel_id=channel, initial_comment=comment, files=files)


def _send(client: WebClient, upload: Upload) -> dict[str, str | None]:
    """Reserve an upload URL and send the bytes, shared nowhere yet; the item the post names."""
    reserved = client.files_getUploadURLExternal(filename=upload.filename, length=len(upload.content))
    request = Request(str(reserved["upload_url"]), data=upload.content, method="POST")
    with urlopen(request, timeout=client.timeout, context=client.ssl):  # an error status raises HTTPError
        pass
    return {"id": str(reserved["file_id"]), "title": upload.title}
