"""Classifies client email text into issue, change_request, question or feedback, in Chinese and English."""
from classifiers.model import Classifier, load_classifier
from classifiers.prediction import LABELS, Prediction

__all__ = ["LABELS", "Prediction", "Classifier", "load_classifier"]
