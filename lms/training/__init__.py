"""Training: courses as data, modules, quizzes in GIFT, progress, evaluation, certificates."""
