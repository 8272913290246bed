"""Preview playback: a play/pause button, a seek bar and the time, over QMediaPlayer + QAudioOutput."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QWidget

from app import track_format
from app.elided_label import ElidedLabel

DEFAULT_VOLUME = 0.8


class PlayerBar(QWidget):
    """Plays one file at a time; any list in the app calls ``play(path)``; ``failed(message)`` on errors."""

    failed = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.player = QMediaPlayer(self)
        self.audio_output = QAudioOutput(self)
        self.audio_output.setVolume(DEFAULT_VOLUME)
        self.player.setAudioOutput(self.audio_output)
        self.current_path: str | None = None
        self._buffer: QBuffer | None = None
        self._seeking = False

        self.play_button = QToolButton()
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setEnabled(False)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setEnabled(False)
        self.seek_slider.setToolTip("Seek")
        self.time_label = QLabel("0:00 / 0:00")
        self.now_playing = ElidedLabel("Nothing playing — double-click a track to preview it")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.play_button)
        layout.addWidget(self.now_playing)
        layout.addWidget(self.seek_slider, 1)
        layout.addWidget(self.time_label)

        self.play_button.clicked.connect(self.toggle)
        self.seek_slider.sliderPressed.connect(self._begin_seek)
        self.seek_slider.sliderReleased.connect(self._end_seek)
        self.player.durationChanged.connect(self._on_duration)
        self.player.positionChanged.connect(self._on_position)
        self.player.playbackStateChanged.connect(self._update_icon)
        self.player.errorOccurred.connect(self._on_error)
        self._update_icon()

    def play(self, path: str, label: str | None = None) -> None:
        self.current_path = path
        shown = readable(path)
        self.now_playing.setText(label or Path(shown).name)
        self.now_playing.setToolTip(shown)
        self._buffer = None
        if is_unicode(path):
            self.player.setSource(QUrl.fromLocalFile(path))
        else:
            self._play_from_memory(path)
        self.play_button.setEnabled(True)
        self.seek_slider.setEnabled(True)
        self.player.play()

    def _play_from_memory(self, path: str) -> None:
        """A file name that is not valid UTF-8 cannot travel through a QUrl: hand Qt the bytes instead."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            self.failed.emit(f"Cannot play {readable(path)}: {error.strerror or error}")
            return
        self._buffer = QBuffer(self)
        self._buffer.setData(QByteArray(data))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.player.setSourceDevice(self._buffer, QUrl.fromLocalFile("preview" + Path(readable(path)).suffix))

    def toggle(self) -> None:
        if self.current_path is None:
            return
        if self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState:
            self.player.pause()
        else:
            self.player.play()

    def seek(self, milliseconds: int) -> None:
        self.player.setPosition(max(0, milliseconds))

    def stop(self) -> None:
        self.player.stop()

    def _begin_seek(self) -> None:
        self._seeking = True

    def _end_seek(self) -> None:
        self._seeking = False
        self.seek(self.seek_slider.value())

    def _on_duration(self, milliseconds: int) -> None:
        self.seek_slider.setRange(0, max(0, milliseconds))
        self._on_position(self.player.position())

    def _on_position(self, milliseconds: int) -> None:
        if not self._seeking:
            self.seek_slider.setValue(milliseconds)
        total = track_format.duration_text(self.player.duration() / 1000) or "0:00"
        done = track_format.duration_text(milliseconds / 1000) or "0:00"
        self.time_label.setText(f"{done} / {total}")

    def _update_icon(self) -> None:
        playing = self.player.playbackState() == QMediaPlayer.PlaybackState.PlayingState
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

    def _on_error(self, error: QMediaPlayer.Error, message: str) -> None:
        if error != QMediaPlayer.Error.NoError:
            self.failed.emit(f"Cannot play {Path(readable(self.current_path or '')).name}: {message or error.name}")


def is_unicode(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable(path: str) -> str:
    """A path as text for labels: undecodable bytes shown as replacement characters."""
    return path if is_unicode(path) else os.fsencode(path).decode("utf-8", errors="replace")
