"""Resolution: the result, the head's sign-off, the tenant told, the return visit (回访) and its
answer, the review (检讨) of serious complaints, and the archive.

  ``handlers``  reply commands: 完成/DONE, 确认/APPROVE, 退回/REJECT, 检讨/REVIEW, satisfaction
  ``job``       the aftercare job: return visits when due, reminders, closing, review chases,
                the archive move (what is due is decided by ``daemon.aftercare``)
  ``archive``   replies to archived complaints: an unhappy tenant brings the row back
"""
