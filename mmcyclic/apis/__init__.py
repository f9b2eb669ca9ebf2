"""Running trained models on images and exporting what they find."""
from .overlay import draw_contours, save_comparison_figure

__all__ = ['draw_contours', 'save_comparison_figure']
