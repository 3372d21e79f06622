"""Engine work by playback deadline: the one pool of engine threads and the order it works in.

Every piece of engine work (a window of a stream, a window of a whole file, a preview, a voice's
calibration) is a step submitted with its job's deadline and priority. Workers always take the most
urgent step: among steps already due, the highest priority first; among steps not yet due, the
earliest deadline. Cancelling a job drops its queued steps at once.
"""
