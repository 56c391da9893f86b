"""Teacher-student knowledge distillation (roadmap stage 2).

Students regress a teacher's anomaly score (e.g. log of the reconstruction MSE) so that a small network fits the trigger
latency budget. This stage reads trained teachers saved by :mod:`l1ad.models.io` and writes students in the same format.
Not implemented yet: see the project's open issues.
"""
