"""StudyHistory: the first node of every run - the run's id and the study's earlier trials."""
