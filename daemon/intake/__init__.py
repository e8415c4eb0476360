"""Intake: every email in the complaints mailbox becomes exactly one register row or note.

The flow of one message, in the order the modules are used:
  ``decide``     what is this message? (auto-reply, reply to us, new complaint): ordered rules
  ``rows``       a new complaint -> the register row and its Activity events
  ``walk_ins``   rows staff typed in without a reference get one
  ``cycle``      one intake cycle: fetch, decide, register in batches, apologise, move;
                 every step journalled so a crash anywhere is finished by the next run
"""
