"""Dispatch: handling slips to departments, replies that sign for them, deadlines chased.

  ``lookup``      find a department, category or priority by what the sheet shows
  ``slips``       the handling slip (处理单), one copy per recipient with its own token
  ``fields``      the register cells a (re-)dispatch sets: status, deadlines
  ``replies``     what a reply to a complaint does: commands by members, tenant follow-ups
  ``staff_edits`` staff changed department or priority in the sheet: re-dispatch or re-time
  ``escalation``  the SLA job: reminders and escalations when deadlines pass
"""
