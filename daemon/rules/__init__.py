"""Rules that decide what kind of mail a parsed message is; pure functions of the message."""
