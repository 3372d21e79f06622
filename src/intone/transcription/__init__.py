"""Speech to text: recordings in, transcripts with word timings out (a sibling of `speech/`)."""
