"""Offline guidance through the model's own emotion space: no CLIP weights needed.

A reference picture (face landmarks, `face_landmarks` + `face_measures`) or a description
(facial-action words, `facial_actions`) becomes a pose on the face-board controls; the emotion
encoder E_e maps that pose into the space the labels live in, and `pose_guidance` finds the
guidance feature that the fusion encoder turns into it (direction = expression, norm = strength).
"""
